// Stand-in for CloudFront Functions' `cloudfront` module (runtime cloudfront-js-2.0), for Node.
//
// KeyValueStore reads come from globalThis.__kvs, a Map of key -> stored string; every origin
// change is recorded in globalThis.__origin (see resetOrigin). The checks mirror what AWS
// documents and are stricter where it is silent, so a call that CloudFront could refuse fails
// here too:
// - get(): "The get() method will return an error when the key that you requested doesn't
//   exist" (CloudFront Developer Guide, "Helper methods for key value stores"); formats
//   "string" (default), "json" and "bytes".
// - selectRequestOriginById(id): an origin already defined in the distribution. When
//   globalThis.__distributionOrigins (a Set of ids) is set, any other id throws.
// - createRequestOriginGroup({originIds, failoverCriteria}): two members of the form
//   {originId}; failoverCriteria.statusCodes among 400, 403, 404, 416, 500, 502, 503, 504
//   (AWS API reference, OriginGroupFailoverCriteria).
// - globalThis.__kvsError, when set, is thrown by every read (a store that cannot be read).

const FAILOVER_CODES = new Set([400, 403, 404, 416, 500, 502, 503, 504]);

export function resetOrigin() {
    globalThis.__origin = { selected: null, group: null, updated: null, calls: [] };
    return globalThis.__origin;
}

function record(name, args) {
    const origin = globalThis.__origin ?? resetOrigin();
    origin.calls.push({ name, args }); // kept as given: cheap enough for bench/edge_function.py
    return origin;
}

function checkOriginId(id, where) {
    if (typeof id !== 'string' || id.length === 0) {
        throw new TypeError(`${where}: origin id must be a non-empty string, got ${JSON.stringify(id)}`);
    }
    const known = globalThis.__distributionOrigins;
    if (known instanceof Set && !known.has(id)) {
        throw new Error(`${where}: ${JSON.stringify(id)} is not an origin of the distribution`);
    }
}

class KeyNotFound extends Error {}

function store() {
    if (globalThis.__kvsError) {
        throw globalThis.__kvsError;
    }
    const kvs = globalThis.__kvs;
    if (!(kvs instanceof Map)) {
        throw new Error('globalThis.__kvs is not a Map: no KeyValueStore is associated');
    }
    return kvs;
}

function kvs() {
    return {
        async get(key, options) {
            const data = store();
            if (!data.has(key)) {
                throw new KeyNotFound(`key ${JSON.stringify(key)} not found`);
            }
            const value = data.get(key);
            const format = options?.format ?? 'string';
            if (format === 'string') {
                return value;
            }
            if (format === 'json') {
                return JSON.parse(value);
            }
            if (format === 'bytes') {
                return Buffer.from(value, 'utf8');
            }
            throw new TypeError(`unknown format ${JSON.stringify(format)}`);
        },
        async exists(key) {
            return store().has(key);
        },
        async meta() {
            return { keyCount: store().size };
        },
    };
}

function selectRequestOriginById(id) {
    checkOriginId(id, 'selectRequestOriginById');
    record('selectRequestOriginById', [id]).selected = id;
}

function createRequestOriginGroup(params) {
    const where = 'createRequestOriginGroup';
    const ids = params?.originIds;
    if (!Array.isArray(ids) || ids.length !== 2) {
        throw new TypeError(`${where}: originIds must list two origins`);
    }
    const members = ids.map((member) => member?.originId);
    members.forEach((id) => checkOriginId(id, where));
    if (members[0] === members[1]) {
        throw new TypeError(`${where}: the two origins are the same`);
    }
    const codes = params?.failoverCriteria?.statusCodes;
    if (!Array.isArray(codes) || codes.length === 0 || !codes.every((c) => FAILOVER_CODES.has(c))) {
        throw new TypeError(`${where}: failoverCriteria.statusCodes must be among ${[...FAILOVER_CODES]}`);
    }
    const origin = record(where, [params]);
    origin.group = { originIds: members, statusCodes: [...codes] };
}

function updateRequestOrigin(params) {
    if (params === null || typeof params !== 'object') {
        throw new TypeError('updateRequestOrigin: expects an object');
    }
    record('updateRequestOrigin', [params]).updated = params;
}

export default {
    kvs,
    selectRequestOriginById,
    createRequestOriginGroup,
    updateRequestOrigin,
    edgeLocation: { name: 'TST', serverIp: '127.0.0.1', region: 'us-east-1' },
};
