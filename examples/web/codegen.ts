// Types for every operation in src/, generated from keycard's schema:
//   npm run codegen          regenerate src/gql/ (commit the result)
//   npm run codegen:check    fail when src/gql/ is out of date
import type { CodegenConfig } from '@graphql-codegen/cli';

// codegen:check writes to a temporary directory and compares it with src/gql/.
const outDir = process.env.CODEGEN_OUT_DIR ?? 'src/gql/';

const config: CodegenConfig = {
  schema: '../../graph/schema.graphqls',
  documents: ['src/**/*.{ts,tsx}', '!src/gql/**/*'],
  ignoreNoDocuments: false,
  generates: {
    [outDir]: {
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config: {
        // Time is an RFC 3339 string on the wire.
        scalars: { Time: 'string' },
        strictScalars: true,
        enumsAsTypes: true,
        useTypeImports: true,
      },
    },
  },
};

export default config;
