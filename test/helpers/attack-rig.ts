import path from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import { startGateway, type GatewayOptions, type GatewayProcess } from './gateway.ts';
import { tempDir } from './ports.ts';
import { startRecordingSmtp, type RecordingSmtp, type RecordingSmtpOptions } from './recording-smtp.ts';

/** Retries an hour out and polls fast: a test sees the first attempt and no second one. */
export const FIRST_ATTEMPT_QUEUE = { retryScheduleMs: [60_000], pollIntervalMs: 100 };

export interface SmarthostRigOptions {
  /** tempDir prefix. */
  prefix: string;
  recorder?: RecordingSmtpOptions;
  /** The `domains` config, given the recorder as `host:port`; default corp.test to it, recipients not verified. */
  domains?: (smarthost: string) => Record<string, unknown> | Promise<Record<string, unknown>>;
  /** The `queue` config; default FIRST_ATTEMPT_QUEUE, null leaves the gateway's defaults. */
  queue?: Record<string, unknown> | null;
  /** Further top-level config keys. */
  config?: Record<string, unknown>;
  /** Accounts made with `user add <address> --password <password>` before the tests. */
  users?: string[];
  password?: string;
  /** More setup once the gateway runs (aliases, keys). */
  setup?: (gateway: GatewayProcess) => Promise<void>;
  /** How `gateway.cli()` runs (gateway.ts GatewayOptions); default a child process. */
  cli?: GatewayOptions['cli'];
}

export interface SmarthostRig {
  readonly gateway: GatewayProcess;
  readonly rx: RecordingSmtp;
  readonly temp: { dir: string; cleanup(): void };
}

/**
 * A gateway process (portal off) whose local domains relay to a recording smarthost.
 * Registers beforeAll/afterAll in the calling describe; the getters are valid inside tests.
 */
export function gatewayWithSmarthost(options: SmarthostRigOptions): SmarthostRig {
  const temp = tempDir(options.prefix);
  let rx: RecordingSmtp | undefined;
  let gateway: GatewayProcess | undefined;

  beforeAll(async () => {
    rx = await startRecordingSmtp(options.recorder);
    const smarthost = `127.0.0.1:${rx.port}`;
    const domains = options.domains ? await options.domains(smarthost) : { 'corp.test': { smarthost, verifyRecipients: 'off' } };
    const queue = options.queue === undefined ? FIRST_ATTEMPT_QUEUE : options.queue;
    gateway = await startGateway(path.join(temp.dir, 'gw'), {
      domains,
      ...(queue === null ? {} : { queue }),
      web: { enabled: false },
      ...options.config,
    }, { cli: options.cli });
    for (const user of options.users ?? []) {
      expect((await gateway.cli('user', 'add', user, '--password', options.password ?? '')).code).toBe(0);
    }
    await options.setup?.(gateway);
  }, 90_000);

  afterAll(async () => {
    await gateway?.kill();
    await rx?.stop();
    temp.cleanup();
  });

  return {
    get gateway() {
      if (!gateway) throw new Error('the gateway runs only inside tests (beforeAll failed?)');
      return gateway;
    },
    get rx() {
      if (!rx) throw new Error('the recording smarthost runs only inside tests (beforeAll failed?)');
      return rx;
    },
    temp,
  };
}
