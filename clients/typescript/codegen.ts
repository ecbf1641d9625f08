// GraphQL Code Generator: typed documents for clients/operations/*.graphql, and the trusted-documents
// manifest the server reads (PARLEY_TRUSTED_DOCUMENTS_PATH=clients/typescript/src/gql/persisted-documents.json).
import type { CodegenConfig } from "@graphql-codegen/cli";

const config: CodegenConfig = {
  schema: "../../schema.graphql",
  documents: ["../operations/*.graphql"],
  ignoreNoDocuments: false,
  generates: {
    "src/gql/": {
      preset: "client",
      presetConfig: {
        // Every operation is also written to persisted-documents.json as {sha256: document};
        // the generated documents keep their text and carry the hash (`__meta__.hash`).
        persistedDocuments: { mode: "embedHashInDocument", hashAlgorithm: "sha256" },
        fragmentMasking: false,
      },
      config: {
        useTypeImports: true,
        // ES modules: relative imports with their .js extension.
        emitLegacyCommonJSImports: false,
        enumsAsTypes: true,
        // Scalars as they travel in JSON: ISO 8601 strings, any JSON value, a file to upload.
        scalars: {
          Date: { input: "string", output: "string" },
          DateTime: { input: "string", output: "string" },
          JSON: { input: "import('../json.js').JSONValue", output: "import('../json.js').JSONValue" },
          Upload: { input: "File | Blob", output: "never" },
        },
      },
    },
  },
};

export default config;
