// Tests run the workspace packages from their TypeScript sources: the `cynchro-source` export condition (as
// tsconfig's customConditions and `tsx --conditions=cynchro-source`), in front of Vite's default conditions.
// Without it, `@cynchro/*` resolves to the compiled dist that plain `node` runs.
export const sourceConditions = {
  resolve: { conditions: ['cynchro-source', 'module', 'browser', 'development|production'] },
  ssr: { resolve: { conditions: ['cynchro-source', 'module', 'node', 'development|production'] } },
};
