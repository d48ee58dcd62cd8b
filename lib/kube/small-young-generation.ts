/**
 * Imported for its effect, first, by bin/clusterdns.ts: keeps V8's young generation at its initial size (see
 * keepYoungGenerationSmall in lib/kube/gc.ts) before loading the other modules grows it (to 8 MB on Node 20).
 */
import { keepYoungGenerationSmall } from './gc.js';

keepYoungGenerationSmall();
