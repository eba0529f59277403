/**
 * Loads the optional NATS client (`nats`, an optional peer dependency) only when a JetStream sink
 * is created, so `nodewal` itself loads without it; a missing client is a typed error that says
 * what to install.
 */
import { WalError, WalErrorCodes } from '../errors';

export type NatsModule = typeof import('nats');

let cached: NatsModule | undefined;

export function loadNats(): NatsModule {
  if (cached !== undefined) return cached;
  try {
    cached = require('nats') as NatsModule;
    return cached;
  } catch (err) {
    if ((err as { code?: string }).code === 'MODULE_NOT_FOUND') {
      throw new WalError(WalErrorCodes.FORWARD_CLIENT_MISSING, 'the JetStream sink needs the NATS client: npm install nats@^2.29', {
        cause: err,
      });
    }
    throw err;
  }
}
