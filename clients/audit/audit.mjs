// Runs graphql-http's GraphQL-over-HTTP server audits against a running Parley server.
//
//   node audit.mjs http://127.0.0.1:8000/graphql
//
// Prints one line per audit that did not pass and a JSON summary as the last line
// ({"ok": n, "notices": n, "warnings": n, "errors": n}); exits 1 on any error or warning.
import { serverAudits } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node audit.mjs <graphql url>');
  process.exit(2);
}

const counts = { ok: 0, notices: 0, warnings: 0, errors: 0 };
const key = { ok: 'ok', notice: 'notices', warn: 'warnings', error: 'errors' };
for (const audit of serverAudits({ url })) {
  const result = await audit.fn();
  counts[key[result.status]] += 1;
  if (result.status !== 'ok') {
    let body = '';
    try {
      body = await result.response.text();
    } catch {
      // the audit already read the body
    }
    console.log(`${result.status.toUpperCase()} ${result.id} ${result.name}: ${result.reason}`);
    if (body) console.log(`  response ${result.response.status}: ${body.slice(0, 300)}`);
  }
}
console.log(JSON.stringify(counts));
process.exit(counts.errors || counts.warnings ? 1 : 0);
