// Lint rules that carry the house style (STYLE.md §2, §5, §7) rather than taste.
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'proto/gen/**', 'bench/**/*.py', '.ci/**'] },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { project: './tsconfig.lint.json', tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'import-x': importX },
    settings: { 'import-x/resolver': { node: true } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'import-x/no-cycle': 'error',
      'import-x/no-extraneous-dependencies': 'error',
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@rest/*/src/*', '@rest/*/dist/*'],
              message: "import a package's public entry, not its internals",
            },
            {
              group: ['../../*/src/*', '../../../*/src/*'],
              message: 'import another package through @rest/<name>',
            },
          ],
        },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: "MemberExpression[object.name='process'][property.name='env']",
          message: 'process.env is read only in config.ts and cli/',
        },
        { selector: 'TSEnumDeclaration', message: 'use an `as const` object and a union type' },
      ],
      'no-console': 'error',
    },
  },
  {
    files: ['**/config.ts', 'cli/**', 'scripts/**', 'bench/**', '**/*.test.ts', 'libs/testkit/**'],
    rules: { 'no-restricted-syntax': 'off', 'no-console': 'off' },
  },
  {
    files: ['**/*.test.ts', '**/test/**'],
    rules: {
      '@typescript-eslint/no-floating-promises': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      'import-x/no-extraneous-dependencies': ['error', { devDependencies: true }],
    },
  },
  { files: ['**/*.js', '**/*.mjs'], ...tseslint.configs.disableTypeChecked },
);
