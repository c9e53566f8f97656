import cf from 'cloudfront';

// failover router for CloudFront Functions (runtime cloudfront-js-2.0, viewer request).
//
// It reads its pool's weights from the function's KeyValueStore, picks an origin of the
// distribution by weight and pairs it with a second serving origin as an origin group, so
// a dead pick still fails over on that request. With no key, a bad value or any error it
// changes nothing: the request keeps the cache behaviour's target, itself an origin group
// of two Regions. It never answers the viewer itself and never throws.
//
// The value (one key per pool, key = the pool's name), written by the failover daemon:
//   {"v":1,"s":<sequence>,"o":[["<origin id in the distribution>",<weight>],...]}
//
// AWS, CloudFront Developer Guide, "Helper methods for origin modification": "You can
// update the origin on viewer request CloudFront Functions only. [...] create a CloudFront
// function using JavaScript runtime 2.0 and include the following statement in the first
// line of the function code: import cf from 'cloudfront';". Hence the first line above.
// The same page: "The Test API and Test console pages don't test whether an origin
// modification has occurred": the origin calls are tested offline (edge_function/test).

// The pool this copy serves. The template (deploy/cloudformation/edge-function.yaml)
// replaces this one line with the pool's name; nothing else in the file changes.
const POOL = "www";

// Bounds that keep the work per request small and fixed. AWS, "Quotas" (CloudFront): 25
// origins per distribution by default, so a pool never names more. A value is at most
// 1 KB (KeyValueStore quota), checked again here before it is parsed.
const MAX_ORIGINS = 25;
const MAX_VALUE = 1024;
const MAX_WEIGHT = 255;
// Origin ids: letters, digits and . _ - (what the daemon writes; anything else is a bad
// value, never passed on to CloudFront).
const ORIGIN_ID = /^[A-Za-z0-9._-]{1,128}$/;
// What makes the group try its second origin. AWS, API reference, OriginGroupFailoverCriteria
// (StatusCodes): the codes an origin group can fail over on are 400, 403, 404, 416, 500,
// 502, 503 and 504. S3 through origin access control answers 403 for a bucket that is gone
// or a key it cannot read; 5xx for an S3 outage.
const FAILOVER_CODES = [403, 500, 502, 503, 504];

// The origins to use, as [primary] or [primary, secondary], or null for "leave the default".
// `value` is the stored string, `random` a number in [0, 1).
function choose(value, random) {
    if (typeof value !== 'string' || value.length > MAX_VALUE) {
        return null;
    }
    var doc = JSON.parse(value);
    if (doc === null || typeof doc !== 'object' || doc.v !== 1 || !Array.isArray(doc.o)) {
        return null;
    }
    var entries = doc.o;
    if (entries.length < 1 || entries.length > MAX_ORIGINS) {
        return null;
    }
    var ids = [];
    var weights = [];
    var total = 0;
    for (var i = 0; i < entries.length; i++) {
        var entry = entries[i];
        if (!Array.isArray(entry) || entry.length !== 2) {
            return null;
        }
        var id = entry[0];
        var weight = entry[1];
        if (typeof id !== 'string' || !ORIGIN_ID.test(id) || ids.indexOf(id) !== -1) {
            return null;
        }
        if (typeof weight !== 'number' || Math.floor(weight) !== weight || weight < 0 || weight > MAX_WEIGHT) {
            return null;
        }
        ids.push(id);
        weights.push(weight);
        total += weight;
    }
    if (total <= 0) {
        return null;
    }
    // The primary: origin i with probability weights[i] / total.
    var point = Math.floor(random * total);
    var primary = 0;
    while (point >= weights[primary]) {
        point -= weights[primary];
        primary++;
    }
    // The secondary: the next origin after the primary, in the pool's order and round the
    // end, that also serves (weight > 0). A pool with one serving origin gets no group: the
    // daemon has taken the others out, and a request must not fail over onto one of them.
    for (var step = 1; step < ids.length; step++) {
        var other = (primary + step) % ids.length;
        if (weights[other] > 0) {
            return [ids[primary], ids[other]];
        }
    }
    return [ids[primary]];
}

async function handler(event) {
    var request = event.request;
    try {
        // AWS, "Helper methods for key value stores": get() "Use this method to return the
        // key value for the key name that you specify"; "The get() method will return an
        // error when the key that you requested doesn't exist in the associated key value
        // store" — a missing key lands in the catch below. cf.kvs() with no argument uses
        // the store associated with the function (the same page's example:
        // "const kvsHandle = cf.kvs();").
        var value = await cf.kvs().get(POOL, { format: 'string' });
        var origins = choose(value, Math.random());
        if (origins === null) {
            return request;
        }
        if (origins.length === 1) {
            // "selectRequestOriginById()" picks an origin already defined in the distribution,
            // by id. The stored copy of that page available here showed its opening, not the
            // method's own text: that the origin keeps its own settings (its origin access
            // control included) is our reading, unconfirmed. updateRequestOrigin() is not
            // used: it edits the current origin ("Any settings not specified in
            // updateRequestOrigin() inherit the same settings from the existing origin's
            // configuration"; "If you update an origin that is part of an origin group, only
            // the primary origin of the origin group is updated", translated from the page's
            // Chinese edition), and would change the default group's primary instead.
            cf.selectRequestOriginById(origins[0]);
        } else {
            // "createRequestOriginGroup()": two origins of the distribution, by id, and the
            // status codes on which CloudFront retries the request on the second. The member
            // shape {originId: ...} is that of AWS's example as public code reproduces it
            // (one third-party type file has plain strings instead): the docs are unclear
            // here. Nor do they say what happens when an id is not an origin of the
            // distribution, hence the strict id check above and the catch below.
            cf.createRequestOriginGroup({
                originIds: [{ originId: origins[0] }, { originId: origins[1] }],
                failoverCriteria: { statusCodes: FAILOVER_CODES }
            });
        }
    } catch (err) {
        // A missing key, an unparsable value or a failed call: keep the default target.
    }
    return request;
}
