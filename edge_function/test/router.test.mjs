// router.js as shipped, run through the cloudfront shim: what it does with each kind of value.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { handler } from '../router.js';
import { driveOne } from './drive.mjs';

const POOL = 'www'; // the name router.js carries until a deployment substitutes its own

function value(origins, extra = {}) {
    return JSON.stringify({ v: 1, s: 7, o: origins, ...extra });
}

async function route(stored, { random = 0, origins } = {}) {
    const kvs = stored === undefined ? {} : { [POOL]: stored };
    return driveOne({ kvs, random, origins: origins ?? null });
}

const DEFAULT = { origin: null, group: null, statusCodes: null, default: true, calls: 0, error: null };

test('two serving origins: the weighted pick is paired with the next serving one as a group', async () => {
    const out = await route(value([['s3-a', 1], ['s3-b', 1], ['s3-c', 2]]), { random: 0.3 });
    assert.deepEqual(out.group, ['s3-b', 's3-c']);
    assert.deepEqual(out.statusCodes, [403, 500, 502, 503, 504]);
    assert.equal(out.calls, 1);
});

test('the secondary wraps round the pool and skips origins at weight 0', async () => {
    const out = await route(value([['s3-a', 1], ['s3-b', 0], ['s3-c', 3]]), { random: 0.9 });
    assert.deepEqual(out.group, ['s3-c', 's3-a']);
});

test('one serving origin is selected alone: no failover onto an origin the daemon took out', async () => {
    const out = await route(value([['s3-a', 0], ['s3-b', 9], ['s3-c', 0]]), { random: 0.99 });
    assert.equal(out.origin, 's3-b');
    assert.equal(out.group, null);
    assert.equal(out.calls, 1);
});

const BAD_VALUES = {
    'missing key': undefined,
    'not JSON': '{"v":1,',
    'JSON null': 'null',
    'a bare array': '[["s3-a",1]]',
    'version 2': value([['s3-a', 1]], { v: 2 }),
    'no version': JSON.stringify({ s: 1, o: [['s3-a', 1]] }),
    'every weight 0': value([['s3-a', 0], ['s3-b', 0]]),
    'no origins': value([]),
    'o is not a list': JSON.stringify({ v: 1, s: 1, o: { 's3-a': 1 } }),
    'a weight above 255': value([['s3-a', 256]]),
    'a negative weight': value([['s3-a', -1], ['s3-b', 5]]),
    'a fractional weight': value([['s3-a', 1.5]]),
    'a weight given as a string': value([['s3-a', '1']]),
    'an id with a space': value([['s3 a', 1]]),
    'an empty id': value([['', 1]]),
    'the same id twice': value([['s3-a', 1], ['s3-a', 1]]),
    'an entry of three items': value([['s3-a', 1, 'x']]),
    '26 origins, more than a distribution holds': value(
        Array.from({ length: 26 }, (_, i) => [`o${i}`, 1]),
    ),
    'a value over 1 KB': value([['s3-a', 1]], { pad: 'x'.repeat(1100) }),
};

for (const [what, stored] of Object.entries(BAD_VALUES)) {
    test(`${what}: the request keeps its default target`, async () => {
        assert.deepEqual(await route(stored, { random: 0.5 }), DEFAULT);
    });
}

test('an origin id the distribution does not have: the call fails and the default target stays', async () => {
    const out = await route(value([['s3-a', 1], ['s3-gone', 1]]), { origins: ['s3-a'] });
    assert.deepEqual(out, DEFAULT);
});

test('a store that cannot be read leaves the default target and throws nothing', async () => {
    globalThis.__kvsError = new Error('store unavailable');
    try {
        assert.deepEqual(await route(value([['s3-a', 1]])), DEFAULT);
    } finally {
        delete globalThis.__kvsError;
    }
});

test('the handler returns the very request it was given, unchanged', async () => {
    globalThis.__kvs = new Map([[POOL, value([['s3-a', 1], ['s3-b', 1]])]]);
    const request = { method: 'GET', uri: '/a/b.html', querystring: { q: { value: '1' } }, headers: {}, cookies: {} };
    const before = structuredClone(request);
    const returned = await handler({ version: '1.0', context: {}, viewer: { ip: '192.0.2.1' }, request });
    assert.equal(returned, request);
    assert.deepEqual(returned, before);
});

test('other pools\' keys are not read: only the key named by POOL counts', async () => {
    const out = await driveOne({ kvs: { other: value([['s3-a', 1]]) }, random: 0, origins: null });
    assert.deepEqual(out, DEFAULT);
});
