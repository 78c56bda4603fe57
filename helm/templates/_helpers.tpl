{{/* Name of the release's objects: <release>-task-dispatcher, or <release> when it already says so. */}}
{{- define "task-dispatcher.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "task-dispatcher.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "task-dispatcher.labels" -}}
{{ include "task-dispatcher.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "task-dispatcher.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* Redis connection and secrets, shared by both Deployments; the rest comes from the ConfigMap. */}}
{{- define "task-dispatcher.redisEnv" -}}
{{- if .Values.redis.sentinel.addr }}
- name: REDIS_SENTINEL_ADDR
  value: {{ .Values.redis.sentinel.addr | quote }}
- name: REDIS_MASTER_NAME
  value: {{ .Values.redis.sentinel.masterName | quote }}
{{- else }}
- name: REDIS_URL
  value: {{ required "set redis.url or redis.sentinel.addr" .Values.redis.url | quote }}
{{- end }}
{{- if .Values.redis.passwordSecret.name }}
- name: REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .Values.redis.passwordSecret.name }}
      key: {{ .Values.redis.passwordSecret.key }}
{{- end }}
{{- if .Values.redis.sentinel.passwordSecret.name }}
- name: REDIS_SENTINEL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .Values.redis.sentinel.passwordSecret.name }}
      key: {{ .Values.redis.sentinel.passwordSecret.key }}
{{- end }}
{{- if .Values.adminKeySecret.name }}
- name: ADMIN_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .Values.adminKeySecret.name }}
      key: {{ .Values.adminKeySecret.key }}
{{- end }}
{{- if .Values.encryptionKeySecret.name }}
- name: ENCRYPTION_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .Values.encryptionKeySecret.name }}
      key: {{ .Values.encryptionKeySecret.key }}
{{- end }}
{{- end -}}
