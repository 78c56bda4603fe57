/**
 * The port a connection to a URL goes to: its own, or its scheme's default (a WHATWG URL leaves `port` empty
 * when it is the default, so `http://a` and `http://a:80` both say ''). Tasks use http and https only.
 */
export const effectivePort = ({ protocol, port }: Readonly<{ protocol: string; port: string }>): number =>
  Number(port) || (protocol === 'https:' ? 443 : 80);
