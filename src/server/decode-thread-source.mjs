// The decode thread's entry when Kiln runs from its TypeScript sources (tsx, the tests): a worker thread
// does not inherit tsx's loader, so it is registered here before the thread's module is loaded.
// The build runs dist/server/decode-thread.js directly and never reads this file.
import { register } from 'tsx/esm/api';

register();
await import('./decode-thread.ts');
