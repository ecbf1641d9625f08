// GraphQL Code Generator: typed documents for src/operations/*.graphql over ../schema.graphql, and
// the trusted-documents manifest the server reads (PARLEY_TRUSTED_DOCUMENTS_PATH=web/src/gql/persisted-documents.json).
import type { CodegenConfig } from "@graphql-codegen/cli";

const config: CodegenConfig = {
  schema: "../schema.graphql",
  documents: ["src/operations/*.graphql"],
  ignoreNoDocuments: false,
  generates: {
    "src/gql/": {
      preset: "client",
      presetConfig: {
        // Every operation is also written to persisted-documents.json as {"sha256:<hex>": document};
        // the generated documents carry the hash (`__meta__.hash`), which is all the SPA sends.
        persistedDocuments: { mode: "embedHashInDocument", hashAlgorithm: "sha256" },
        fragmentMasking: false,
      },
      config: {
        useTypeImports: true,
        enumsAsTypes: true,
        scalars: {
          Date: { input: "string", output: "string" },
          DateTime: { input: "string", output: "string" },
          JSON: { input: "unknown", output: "unknown" },
          Upload: { input: "File | Blob", output: "never" },
        },
      },
    },
  },
};

export default config;
