/**
 * Loads the addon (node-gyp-build: prebuilds/ then build/Release) and wraps it as an IoBackend.
 * PLACEHOLDER until the addon lands: reports itself unavailable.
 */
import type { IoBackend } from './types';

export function loadNativeBackend(): { backend?: IoBackend; error?: string } {
  return { error: 'addon not implemented yet' };
}
