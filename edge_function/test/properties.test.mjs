// Property tests of router.js as shipped: over stored values and weights (fast-check).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { driveOne } from './drive.mjs';

const POOL = 'www';
const RUNS = { numRuns: 200, seed: 14 };

// A pool as the daemon writes it: 1-25 distinct ids, weights 0-255, at least one above 0.
const originId = fc.stringMatching(/^[A-Za-z0-9._-]{1,20}$/);
const pool = (maxWeight = 255, maxOrigins = 25) =>
    fc
        .uniqueArray(originId, { minLength: 1, maxLength: maxOrigins })
        .chain((ids) =>
            fc.tuple(fc.constant(ids), fc.array(fc.integer({ min: 0, max: maxWeight }), {
                minLength: ids.length,
                maxLength: ids.length,
            })),
        )
        .filter(([, weights]) => weights.some((w) => w > 0))
        .map(([ids, weights]) => ids.map((id, i) => [id, weights[i]]));

const encode = (entries, sequence = 1) => JSON.stringify({ v: 1, s: sequence, o: entries });
// Math.random's range: [0, 1).
const unit = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });

function run(stored, random) {
    return driveOne({ kvs: stored === undefined ? {} : { [POOL]: stored }, random, origins: null });
}

// What the router should pick, written plainly: the weighted draw, then the next serving origin.
function model(entries, random) {
    const total = entries.reduce((sum, [, w]) => sum + w, 0);
    let point = Math.floor(random * total);
    let primary = entries.findIndex(([, w]) => (point < w ? true : ((point -= w), false)));
    const n = entries.length;
    for (let step = 1; step < n; step++) {
        const other = (primary + step) % n;
        if (entries[other][1] > 0) {
            return { origin: entries[primary][0], group: [entries[primary][0], entries[other][0]] };
        }
    }
    return { origin: entries[primary][0], group: null };
}

test('any stored string: the handler never throws, and any choice names serving origins of the value', async () => {
    const anyText = fc.oneof(
        fc.string({ maxLength: 300 }),
        fc.json({ maxDepth: 4 }),
        pool().map((entries) => encode(entries)),
        // Damaged values: a valid one cut short or with one character replaced.
        fc.tuple(pool().map((e) => encode(e)), fc.nat(), fc.string({ minLength: 1, maxLength: 1 })).map(([text, at, c]) => {
            const i = at % text.length;
            return text.slice(0, i) + c + text.slice(i + 1);
        }),
        fc.tuple(pool().map((e) => encode(e)), fc.nat()).map(([text, at]) => text.slice(0, at % text.length)),
    );
    await fc.assert(
        fc.asyncProperty(fc.option(anyText, { nil: undefined }), unit, async (stored, random) => {
            const out = await run(stored, random);
            assert.equal(out.error, null);
            if (out.default) {
                assert.equal(out.calls, 0);
                return;
            }
            const doc = JSON.parse(stored);
            const weight = new Map(doc.o);
            assert.ok(weight.get(out.origin) > 0, `${out.origin} does not serve`);
            if (out.group !== null) {
                assert.equal(out.group[0], out.origin);
                assert.notEqual(out.group[1], out.origin);
                assert.ok(weight.get(out.group[1]) > 0, `${out.group[1]} does not serve`);
            }
            assert.equal(out.calls, 1);
        }),
        RUNS,
    );
});

test('valid pools: the pick and its partner are the weighted draw and the next serving origin', async () => {
    await fc.assert(
        fc.asyncProperty(pool(), unit, fc.maxSafeNat(), async (entries, random, sequence) => {
            const out = await run(encode(entries, sequence), random);
            const want = model(entries, random);
            assert.equal(out.default, false);
            assert.equal(out.origin, want.origin);
            assert.deepEqual(out.group, want.group);
        }),
        RUNS,
    );
});

test('over an even sweep of random draws each origin is primary exactly weight/total of the time', async () => {
    await fc.assert(
        fc.asyncProperty(pool(40, 8), async (entries) => {
            const total = entries.reduce((sum, [, w]) => sum + w, 0);
            const stored = encode(entries);
            const counts = new Map(entries.map(([id]) => [id, 0]));
            for (let k = 0; k < total; k++) {
                const out = await run(stored, (k + 0.5) / total);
                counts.set(out.origin, counts.get(out.origin) + 1);
            }
            for (const [id, weight] of entries) {
                assert.equal(counts.get(id), weight, `origin ${id}`);
            }
        }),
        { numRuns: 40, seed: 14 },
    );
});

test('a value with every weight 0 never routes, whatever the draw', async () => {
    await fc.assert(
        fc.asyncProperty(pool(), unit, async (entries, random) => {
            const zero = entries.map(([id]) => [id, 0]);
            const out = await run(encode(zero), random);
            assert.equal(out.default, true);
        }),
        RUNS,
    );
});
