// Writes dist/esm/index.mjs: an ES module that re-exports the CommonJS build, so `import` and
// `require` share one module instance (one backend choice, one lock registry).
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const dist = path.join(__dirname, '..', 'dist');
const cjs = require(path.join(dist, 'index.js'));
const names = Object.keys(cjs).filter((n) => n !== 'default' && n !== '__esModule');
const body = `import cjs from '../index.js';\n` + names.map((n) => `export const ${n} = cjs.${n};`).join('\n') + `\nexport default cjs;\n`;
fs.mkdirSync(path.join(dist, 'esm'), { recursive: true });
fs.writeFileSync(path.join(dist, 'esm', 'index.mjs'), body);
