import { EngineStore } from '../../src/store/index.js';
import { storeContract } from './contract.js';
import { MemoryEngine } from './memory-engine.js';

// The test engine the query tests use meets the same contract as the real engines.
const engine = new MemoryEngine();
storeContract('in-memory test engine', () => EngineStore.open(engine));
