// The decode worker's entry when Kiln runs from its TypeScript sources (tsx, the tests): a worker
// thread does not inherit tsx's loader, so it is registered here before the worker itself is loaded.
// The build runs dist/server/decode-worker.js directly and never reads this file.
import { register } from 'tsx/esm/api';

register();
const worker = await import('./decode-worker.ts');
export default worker.default;
