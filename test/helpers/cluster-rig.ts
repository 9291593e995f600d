import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { startNode, type NodeOptions } from './cluster.ts';
import type { GatewayProcess } from './gateway.ts';
import { tempDir } from './ports.ts';
import { startRecordingSmtp, type RecordingSmtp, type RecordingSmtpOptions } from './recording-smtp.ts';
import { createTestSchema, type TestSchema } from './stores.ts';

export interface SingleNodeRigOptions {
  /** tempDir prefix. */
  prefix: string;
  /** createTestSchema prefix. */
  schema: string;
  /** The recorder's options; given the schema, for replies that reach into the database. */
  recorder?: (schema: TestSchema) => RecordingSmtpOptions;
  node?: NodeOptions;
}

export interface SingleNodeRig {
  readonly schema: TestSchema;
  readonly rx: RecordingSmtp;
  readonly node: GatewayProcess;
  readonly temp: { dir: string; cleanup(): void };
}

function ready<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`${what} exists only inside tests (beforeAll failed?)`);
  return value;
}

/**
 * One cluster node on a fresh PostgreSQL schema relaying to a recording receiver. Registers
 * beforeAll/afterAll in the calling describe; the getters are valid inside tests.
 */
export function singleNodeOnSchema(options: SingleNodeRigOptions): SingleNodeRig {
  const temp = tempDir(options.prefix);
  let schema: TestSchema | undefined;
  let rx: RecordingSmtp | undefined;
  let node: GatewayProcess | undefined;

  beforeAll(async () => {
    schema = await createTestSchema(options.schema);
    rx = await startRecordingSmtp(options.recorder?.(schema));
    node = await startNode(path.join(temp.dir, 'node'), schema, rx, options.node);
  }, 60_000);

  afterAll(async () => {
    await node?.kill('SIGKILL');
    await rx?.stop();
    await schema?.drop();
    temp.cleanup();
  });

  return {
    get schema() {
      return ready(schema, 'the schema');
    },
    get rx() {
      return ready(rx, 'the recording receiver');
    },
    get node() {
      return ready(node, 'the node');
    },
    temp,
  };
}

export interface NodesRigOptions {
  prefix: string;
  schema: string;
  recorder?: RecordingSmtpOptions;
  /** Nodes started one after another, each in `<temp>/<name>`. */
  nodes: [name: string, options: NodeOptions][];
}

export interface NodesRig {
  readonly schema: TestSchema;
  readonly rx: RecordingSmtp;
  /** Filled in beforeAll, in the order of `options.nodes`; a node a test adds is killed after too. */
  readonly nodes: GatewayProcess[];
  readonly temp: { dir: string; cleanup(): void };
}

/** Several cluster nodes on one fresh PostgreSQL schema relaying to one recording receiver. */
export function nodesOnSchema(options: NodesRigOptions): NodesRig {
  const temp = tempDir(options.prefix);
  let schema: TestSchema | undefined;
  let rx: RecordingSmtp | undefined;
  const nodes: GatewayProcess[] = [];

  beforeAll(async () => {
    schema = await createTestSchema(options.schema);
    rx = await startRecordingSmtp(options.recorder);
    for (const [name, nodeOptions] of options.nodes) nodes.push(await startNode(path.join(temp.dir, name), schema, rx, nodeOptions));
  }, 60_000);

  afterAll(async () => {
    for (const node of nodes) await node.kill('SIGKILL');
    await rx?.stop();
    await schema?.drop();
    temp.cleanup();
  });

  return {
    get schema() {
      return ready(schema, 'the schema');
    },
    get rx() {
      return ready(rx, 'the recording receiver');
    },
    nodes,
    temp,
  };
}
