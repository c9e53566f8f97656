// Times edge_function/router.js (as shipped) and the blog's function under Node; prints JSON.
//
//   node --import ./edge_function/test/register.mjs bench/edge_function_time.mjs CALLS [DNS_PORT]
//
// Per call, in nanoseconds: router.js on a 3-origin pool, on a 25-origin pool and with no key
// (the default target), and an empty async handler as the floor; with DNS_PORT, the blog's function resolving its TXT record against
// the DNS responder on 127.0.0.1:DNS_PORT on every call.
import { createRequire } from 'node:module';
import dns from 'node:dns';
import { handler } from '../edge_function/router.js';
import { resetOrigin } from '../edge_function/test/cloudfront-shim.mjs';

const calls = Number(process.argv[2] ?? 20000);
const dnsPort = process.argv[3];
const POOL = 'www';

function viewerEvent() {
    return {
        version: '1.0',
        context: { eventType: 'viewer-request' },
        viewer: { ip: '192.0.2.1' },
        request: { method: 'GET', uri: '/index.html', querystring: {}, headers: {}, cookies: {} },
    };
}

function pool(n) {
    return JSON.stringify({ v: 1, s: 42, o: Array.from({ length: n }, (_, i) => [`s3-origin-${i}`, 100]) });
}

// The floor: an async handler that does nothing, timed the same way.
async function empty(event) {
    return event.request;
}

async function timeRouter(store, n, run = handler) {
    globalThis.__kvs = store;
    const out = new Array(n);
    for (let i = 0; i < n; i++) {
        resetOrigin();
        const event = viewerEvent();
        const started = process.hrtime.bigint();
        await run(event);
        out[i] = Number(process.hrtime.bigint() - started);
    }
    return out;
}

function originRequestEvent() {
    const s3 = {
        authMethod: 'origin-access-identity',
        customHeaders: { 'x-dns-origin': [{ key: 'X-DNS-ORIGIN', value: 'origin.example.com' }] },
        domainName: 'www-primary.s3.eu-central-1.amazonaws.com',
        path: '',
        region: 'eu-central-1',
    };
    const request = { clientIp: '203.0.113.178', headers: {}, method: 'GET', uri: '/', origin: { s3 } };
    return { Records: [{ cf: { config: { eventType: 'origin-request' }, request } }] };
}

async function timeBlog(port, n) {
    dns.setServers([`127.0.0.1:${port}`]);
    const blog = createRequire(import.meta.url)('./blog_router.cjs');
    const out = new Array(n);
    for (let i = 0; i < n; i++) {
        const event = originRequestEvent();
        const started = process.hrtime.bigint();
        await new Promise((resolve, reject) => {
            blog.handler(event, {}, (err, request) => (err ? reject(err) : resolve(request)));
        });
        out[i] = Number(process.hrtime.bigint() - started);
    }
    return out;
}

const result = {
    node: process.version,
    // Warm-up first, as a warm CloudFront Functions or Lambda instance would be.
    warmup: (await timeRouter(new Map([[POOL, pool(3)]]), 2000)).length,
    three: await timeRouter(new Map([[POOL, pool(3)]]), calls),
    twentyfive: await timeRouter(new Map([[POOL, pool(25)]]), calls),
    missing: await timeRouter(new Map(), calls),
    empty: await timeRouter(new Map(), calls, empty),
};
if (dnsPort !== undefined) {
    await timeBlog(dnsPort, 200);
    result.blog = await timeBlog(dnsPort, Math.min(calls, 2000));
}
process.stdout.write(JSON.stringify(result) + '\n');
