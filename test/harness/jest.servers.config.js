/** Server-only test config without the Temporal global setup: `npx jest -c test/harness/jest.servers.config.js <paths>`. */
const path = require('node:path');
module.exports = {
  rootDir: path.resolve(__dirname, '../..'),
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  testEnvironment: 'node',
};
