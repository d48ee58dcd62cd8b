/**
 * Imported for its effect, first, by bin/clusterdns.ts: on Node 20, keeps V8's young generation small (see
 * keepYoungGenerationSmall in lib/kube/gc.ts) before loading the other modules grows it (to 8 MB).
 */
import { keepYoungGenerationSmall } from './gc.js';

keepYoungGenerationSmall();
