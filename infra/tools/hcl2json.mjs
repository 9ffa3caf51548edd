// Prints the Terraform configuration in a directory (its *.tf and *.tf.json files, as Terraform reads them)
// as one JSON document, for tests/Pipeline.Infra.Tests.
// Usage: node hcl2json.mjs <directory>
import { convertFiles } from "@cdktf/hcl2json";
import { existsSync, statSync } from "node:fs";

const directory = process.argv[2];
if (!directory || !existsSync(directory) || !statSync(directory).isDirectory()) {
  console.error(`usage: node hcl2json.mjs <directory with .tf files> (got ${directory ?? "nothing"})`);
  process.exit(2);
}

try {
  const configuration = await convertFiles(directory);
  process.stdout.write(JSON.stringify(configuration, null, 2) + "\n");
} catch (error) {
  console.error(`cannot parse the Terraform in ${directory}: ${error?.message ?? error}`);
  process.exit(1);
}
