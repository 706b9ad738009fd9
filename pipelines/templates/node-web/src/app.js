'use strict';
// The request handler: "/" greets, "/healthz" answers "ok" for health checks.

function handler(req, res) {
  const path = new URL(req.url, 'http://localhost').pathname;
  if (path === '/healthz') {
    res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end('ok\n');
    return;
  }
  if (path === '/') {
    const body = { message: 'hello from node-web', version: process.env.APP_VERSION || 'dev' };
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body) + '\n');
    return;
  }
  res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
  res.end('not found\n');
}

module.exports = { handler };
