// The one edit a deployment makes to router.js: the pool it serves.
//
// The template (deploy/cloudformation/edge-function.yaml) carries router.js with this line
// written as `const POOL = "${Pool}";` and the test harness (register.mjs) uses this
// function; tests/edge_function checks that the template's copy is router.js with only that
// line changed.

// 1-64 of A-Z a-z 0-9 _ . - : the daemon's pool names, and safe inside a JS string literal.
export const POOL_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
export const POOL_LINE = /^const POOL = "[^"\\\n]*";$/m;

export function setPool(source, pool) {
    if (!POOL_NAME.test(pool)) {
        throw new Error(`pool name ${JSON.stringify(pool)} is not 1-64 of A-Z a-z 0-9 _ . -`);
    }
    const lines = source.split('\n').filter((line) => POOL_LINE.test(line));
    if (lines.length !== 1) {
        throw new Error(`router.js must have exactly one line const POOL = "..."; found ${lines.length}`);
    }
    return source.replace(POOL_LINE, `const POOL = "${pool}";`);
}
