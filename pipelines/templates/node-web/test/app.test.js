'use strict';
// Tests of the handler through a real server on a free loopback port (node --test, no dependencies).

const assert = require('node:assert');
const http = require('node:http');
const { after, before, test } = require('node:test');
const { handler } = require('../src/app');

let server;
let base;

before(async () => {
  server = http.createServer(handler);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${server.address().port}`;
});

after(() => new Promise((resolve) => server.close(resolve)));

function get(path) {
  return new Promise((resolve, reject) => {
    http.get(base + path, (res) => {
      let body = '';
      res.on('data', (chunk) => { body += chunk; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    }).on('error', reject);
  });
}

test('healthz answers ok', async () => {
  assert.deepStrictEqual(await get('/healthz'), { status: 200, body: 'ok\n' });
});

test('root greets in JSON', async () => {
  const res = await get('/');
  assert.strictEqual(res.status, 200);
  assert.strictEqual(JSON.parse(res.body).message, 'hello from node-web');
});

test('unknown path is 404', async () => {
  assert.strictEqual((await get('/nope')).status, 404);
});
