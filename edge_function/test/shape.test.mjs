// router.js read as text: what the cloudfront-js-2.0 runtime accepts, and its size.
//
// The file is parsed with acorn (locked in package-lock.json) and every syntax node must be of
// a kind the runtime documents as supported; the names behind its restricted features must not
// appear. AWS, CloudFront Developer Guide, "JavaScript runtime 2.0 features for CloudFront
// Functions": the runtime "is compliant with ECMAScript (ES) version 5.1 and also supports some
// features of ES versions 6 through 12 [...] The following topics list all supported features
// in this runtime" (core features: ES 5.1 types, operators and statements; const and let;
// template literals; arrow functions; async and await; the `cloudfront` module imported with
// `import cf from 'cloudfront'`), and its "Restricted features": no dynamic code evaluation
// (eval, the Function constructor), no timers (setTimeout, setImmediate, setInterval,
// clearTimeout), no file system and no network access. "Restrictions on CloudFront Functions",
// Runtime: "does not support dynamic code evaluation, and it restricts access to the network,
// file system, and timers". The stored copy of the 2.0 page available here showed its list of
// topics but not every line of each; anything not named as supported is refused below, so a
// new construct must be checked against the page before it is added to the list.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as acorn from 'acorn';
import * as walk from 'acorn-walk';
import { setPool } from './pool.mjs';

const PATH = new URL('../router.js', import.meta.url);
const SOURCE = readFileSync(PATH, 'utf8');

// AWS News Blog, "Introducing Amazon CloudFront KeyValueStore" (2023): "the maximum function
// size is 10 KB". The API's own model accepts up to 40,960 bytes (botocore, CreateFunction's
// FunctionBlob); the quota is the smaller figure and the one enforced here. The stored copy of
// the Quotas page available here did not show its row.
const MAX_FUNCTION_BYTES = 10 * 1024;
const LONGEST_POOL = 'p'.repeat(64);

// Node kinds the 2.0 runtime documents (ES 5.1 plus the ES 6+ features it lists).
const SUPPORTED = new Set([
    'Program', 'ImportDeclaration', 'ImportDefaultSpecifier', 'VariableDeclaration',
    'VariableDeclarator', 'FunctionDeclaration', 'FunctionExpression', 'ArrowFunctionExpression',
    'BlockStatement', 'ExpressionStatement', 'IfStatement', 'ForStatement', 'ForInStatement',
    'WhileStatement', 'DoWhileStatement', 'ReturnStatement', 'BreakStatement',
    'ContinueStatement', 'TryStatement', 'CatchClause', 'ThrowStatement', 'SwitchStatement',
    'SwitchCase', 'LabeledStatement', 'EmptyStatement', 'Identifier', 'Literal',
    'TemplateLiteral', 'TemplateElement', 'ArrayExpression', 'ObjectExpression', 'Property',
    'MemberExpression', 'CallExpression', 'NewExpression', 'UnaryExpression', 'UpdateExpression',
    'BinaryExpression', 'LogicalExpression', 'AssignmentExpression', 'ConditionalExpression',
    'SequenceExpression', 'ThisExpression', 'AwaitExpression',
]);
// Names of the restricted features: dynamic code, timers, file system, network, other modules.
const RESTRICTED = new Set([
    'eval', 'Function', 'setTimeout', 'setInterval', 'setImmediate', 'clearTimeout',
    'clearInterval', 'clearImmediate', 'require', 'fetch', 'XMLHttpRequest', 'WebSocket',
    'process', 'fs', 'http', 'https', 'net',
]);

function parse(source) {
    return acorn.parse(source, { ecmaVersion: 2022, sourceType: 'module', locations: true });
}

// A node the runtime does not document: a kind not listed, or a generator (function*).
function unsupported(node) {
    return !SUPPORTED.has(node.type) || node.generator === true;
}

function kinds(ast) {
    const found = [];
    walk.full(ast, (node) => found.push(node));
    return found;
}

test('router.js parses as a module whose only import is the cloudfront module, first', () => {
    const ast = parse(SOURCE);
    const imports = ast.body.filter((node) => node.type === 'ImportDeclaration');
    assert.equal(imports.length, 1);
    assert.equal(ast.body[0], imports[0], 'the import must be the first statement');
    assert.equal(imports[0].source.value, 'cloudfront');
    assert.equal(imports[0].specifiers[0].local.name, 'cf');
    assert.ok(SOURCE.startsWith("import cf from 'cloudfront';\n"), 'and the first line of the file');
});

test('router.js defines handler(event) at the top level and exports nothing', () => {
    const ast = parse(SOURCE);
    const handler = ast.body.find((n) => n.type === 'FunctionDeclaration' && n.id.name === 'handler');
    assert.ok(handler, 'no top-level function handler');
    assert.equal(handler.params.length, 1);
    assert.ok(!ast.body.some((n) => n.type.startsWith('Export')), 'CloudFront calls handler by name');
});

test('every construct in router.js is one the 2.0 runtime lists as supported', () => {
    const odd = kinds(parse(SOURCE))
        .filter(unsupported)
        .map((node) => `${node.type} at line ${node.loc.start.line}`);
    assert.deepEqual(odd, []);
});

test('router.js names none of the restricted features: eval, Function, timers, files, network', () => {
    const used = kinds(parse(SOURCE))
        .filter((node) => node.type === 'Identifier' && RESTRICTED.has(node.name))
        .map((node) => `${node.name} at line ${node.loc.start.line}`);
    assert.deepEqual(used, []);
});

test('the check itself refuses what the runtime lacks', () => {
    const bad = [
        'for (const x of [1]) {}',
        'class A {}',
        'function* g() {}',
        'const f = async () => { for await (const x of []) {} };',
        'const o = { ...{} };',
        'eval("1");',
        'setTimeout(() => 1, 0);',
        'const g = new Function("return 1");',
    ];
    for (const source of bad) {
        const nodes = kinds(parse(source));
        const refused =
            nodes.some(unsupported) ||
            nodes.some((n) => n.type === 'Identifier' && RESTRICTED.has(n.name));
        assert.ok(refused, `not refused: ${source}`);
    }
});

test('with the longest pool name substituted the function fits the runtime size quota', () => {
    const deployed = setPool(SOURCE, LONGEST_POOL);
    const bytes = Buffer.byteLength(deployed, 'utf8');
    assert.ok(bytes <= MAX_FUNCTION_BYTES, `${bytes} bytes > ${MAX_FUNCTION_BYTES}`);
    assert.ok(deployed.includes(`const POOL = "${LONGEST_POOL}";`));
});

test('the file carries exactly one POOL line for a deployment to replace', () => {
    assert.throws(() => setPool(SOURCE + '\nconst POOL = "x";\n', 'www'), /exactly one line/);
    assert.throws(() => setPool(SOURCE, 'a"b'), /pool name/);
    assert.equal(setPool(SOURCE, 'www'), SOURCE.replace(/^const POOL = ".*";$/m, 'const POOL = "www";'));
});
