import { isPickupError, type PickupFailure } from '../../src/pickup/index.ts';

/** The reason a pickup operation was refused; fails the test when it was not. */
export async function pickupFailure(promise: Promise<unknown>): Promise<PickupFailure> {
  try {
    await promise;
  } catch (error) {
    if (isPickupError(error)) return error.reason;
    throw error;
  }
  throw new Error('expected a pickup error');
}
