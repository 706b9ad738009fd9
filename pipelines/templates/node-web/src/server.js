'use strict';
// Serve the handler on $HOST:$PORT (default 0.0.0.0:3000); stop cleanly on SIGTERM.

const http = require('node:http');
const { handler } = require('./app');

const host = process.env.HOST || '0.0.0.0';
const port = Number(process.env.PORT || 3000);
const server = http.createServer(handler);

server.listen(port, host, () => console.log(`node-web listening on ${host}:${port}`));
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
