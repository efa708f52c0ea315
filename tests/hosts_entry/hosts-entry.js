// A hosts entry for one node process: data.police.uk -> 127.0.0.1, its ports mapped as the test says.
// Preloaded with `node --require`, so the client under test runs unchanged, as it would on a machine whose
// /etc/hosts sends data.police.uk to a Safer Together server. SAFER_TEST_PORTS="443=8443,80=8080" maps the
// ports the client asks for to the test server's free ports (a redirect a firewall rule would do).
'use strict';
const dns = require('dns');
const net = require('net');

const NAME = 'data.police.uk';
const PORTS = Object.fromEntries(
  (process.env.SAFER_TEST_PORTS || '').split(',').filter(Boolean).map((pair) => pair.split('=').map(Number))
);

const lookup = dns.lookup;
dns.lookup = function hostsEntry(hostname, options, callback) {
  if (hostname !== NAME) return lookup.apply(this, arguments);
  if (typeof options === 'function') [callback, options] = [options, {}];
  if (options && options.all) return process.nextTick(callback, null, [{ address: '127.0.0.1', family: 4 }]);
  return process.nextTick(callback, null, '127.0.0.1', 4);
};

function mapped(options) {
  const port = options && options.host === NAME && PORTS[options.port];
  return port ? { ...options, port } : options;
}

const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function portRedirect(...args) {
  // net.connect passes its normalised [options, callback] array; tls.connect passes options itself.
  if (Array.isArray(args[0])) args[0][0] = mapped(args[0][0]);
  else args[0] = mapped(args[0]);
  return connect.apply(this, args);
};
