// The official AsyncAPI parser on a document: prints every diagnostic, exits 1 on an error (tests/unit/test_asyncapi_document.py).
import { Parser } from "@asyncapi/parser";
import { readFileSync } from "node:fs";
const parser = new Parser();
const { document, diagnostics } = await parser.parse(readFileSync(process.argv[2], "utf8"), { source: process.argv[2] });
const errors = diagnostics.filter((d) => d.severity === 0);
for (const d of diagnostics) console.log(["error","warning","info","hint"][d.severity], d.code, d.path.join("."), d.message);
console.log(JSON.stringify({ valid: Boolean(document) && errors.length === 0, errors: errors.length, warnings: diagnostics.filter((d) => d.severity === 1).length }));
process.exit(errors.length ? 1 : 0);
