// Runs router.js, as shipped, over requests given as JSON lines; for the sandbox and the bench.
//
//   EDGE_FUNCTION_POOL=www node --import ./edge_function/test/register.mjs \
//       edge_function/test/drive.mjs < requests.jsonl
//
// Each input line: {"kvs": {key: value, ...}, "request": {...}} and optionally
// "origins": [ids of the distribution's origins] (others are refused, as CloudFront would)
// and "random": a number in [0, 1) that Math.random returns for that request. A kvs value
// that is not a string is stored as its JSON text. "kvs" and "origins" persist from one line
// to the next when a line leaves them out.
// Each output line, in order:
//   {"origin": <id of the origin the request goes to, or null for the default target>,
//    "group": [primary, secondary] or null, "statusCodes": [...] or null,
//    "default": <true when the function left the default target>,
//    "calls": <origin calls made>, "error": <null, or what the handler threw>}
// A line that is not valid JSON gets {"error": "..."} and the run goes on.
import { createInterface } from 'node:readline';
import { handler } from '../router.js';
import { pathToFileURL } from 'node:url';
import { resetOrigin } from './cloudfront-shim.mjs';

const realRandom = Math.random;

function event(request) {
    return {
        version: '1.0',
        context: { eventType: 'viewer-request', distributionId: 'EDEMO', requestId: 'r' },
        viewer: { ip: '192.0.2.1' },
        request: {
            method: 'GET',
            uri: '/',
            querystring: {},
            headers: {},
            cookies: {},
            ...(request ?? {}),
        },
    };
}

function storeOf(kvs) {
    const map = new Map();
    for (const [key, value] of Object.entries(kvs ?? {})) {
        map.set(key, typeof value === 'string' ? value : JSON.stringify(value));
    }
    return map;
}

export async function driveOne(line) {
    const origin = resetOrigin();
    if (line.kvs !== undefined) {
        globalThis.__kvs = storeOf(line.kvs);
    } else if (!(globalThis.__kvs instanceof Map)) {
        globalThis.__kvs = new Map();
    }
    if (line.origins !== undefined) {
        globalThis.__distributionOrigins = line.origins === null ? undefined : new Set(line.origins);
    }
    Math.random = typeof line.random === 'number' ? () => line.random : realRandom;
    let error = null;
    try {
        await handler(event(line.request));
    } catch (err) {
        error = String(err);
    } finally {
        Math.random = realRandom;
    }
    const group = origin.group;
    const chosen = group ? group.originIds[0] : origin.selected;
    return {
        origin: chosen,
        group: group ? group.originIds : null,
        statusCodes: group ? group.statusCodes : null,
        default: chosen === null && origin.updated === null,
        calls: origin.calls.length,
        error,
    };
}

async function main() {
    const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
    for await (const text of lines) {
        if (text.trim() === '') {
            continue;
        }
        let out;
        try {
            out = await driveOne(JSON.parse(text));
        } catch (err) {
            out = { error: `bad input line: ${err.message}` };
        }
        process.stdout.write(JSON.stringify(out) + '\n');
    }
}

// Run as a program, not when imported, nor when `node --test DIR` runs every file of this
// directory (it sets NODE_TEST_CONTEXT in the files it starts): stdin is then no input.
const asProgram = process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href;
if (asProgram && process.env.NODE_TEST_CONTEXT === undefined) {
    await main();
}
