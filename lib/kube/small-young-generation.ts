/**
 * Imported for its effect, first, by bin/clusterdns.ts: on Node 20, keeps V8's young generation small (see
 * keepYoungGenerationSmall in lib/kube/gc.ts) before loading the other modules grows it.
 */
import { keepYoungGenerationSmall } from './gc.js';

keepYoungGenerationSmall();
