import { z } from 'zod';

const HEX_KEY = /^[0-9a-fA-F]{64}$/;
const masterKey = z
  .string()
  .regex(HEX_KEY, 'must be exactly 64 hexadecimal characters (32 bytes)')
  .meta({ description: 'Master key: 32 bytes as 64 hexadecimal characters. Never stored or logged.' });

export const UnsealInput = z.object({
  key: masterKey,
  // Blank optional fields mean "not provided" (api-reference.md), so `previous: ""` is a plain unseal.
  previous: z
    .union([masterKey, z.literal('')])
    .optional()
    .transform((v) => (v ? v : undefined))
    .meta({ description: 'The current master key; given, `key` replaces it (rotation). Data is not re-encrypted.' }),
});

export const SealStatus = z.object({ sealed: z.boolean() }).meta({ id: 'SealStatus' });

export const UnsealResult = z
  .object({
    sealed: z.boolean(),
    outcome: z.enum(['initialized', 'unsealed', 'already_unsealed', 'rotated']).meta({
      description:
        '`initialized`: the first unseal on this server, the key is now the master key; `unsealed`; `already_unsealed` (same key); `rotated`: `key` replaced `previous`',
    }),
  })
  .meta({ id: 'UnsealResult' });

export type UnsealInput = z.infer<typeof UnsealInput>;

export const DataKeyStatus = z
  .object({
    activeTerm: z.number().int().meta({ description: 'The data-key term new encryptions use' }),
    terms: z.array(
      z.object({
        term: z.number().int(),
        createdAt: z.string().meta({ description: 'ISO 8601' }),
        encryptions: z.number().int().meta({ description: 'Encryptions under this term so far (rotate well before 2^32)' }),
        active: z.boolean(),
      }),
    ),
  })
  .meta({ id: 'DataKeyStatus' });

export const ReencryptResult = z
  .object({
    started: z.boolean().meta({
      description: '`true`: a re-encryption run started now; `false`: one was already running (another run follows it)',
    }),
  })
  .meta({ id: 'ReencryptResult' });

export const ClaimInput = z.object({
  token: z.string().trim().min(1, 'is required').max(512).meta({ description: 'The operator token: the content of DATA_DIR/operator-token on the server' }),
});

export const ClaimResult = z.object({ operator: z.literal(true) }).meta({ id: 'ClaimResult' });

// GET /admin/nodes (CONTRACT.md "Scale and the runtime"): the machines the runtime runs apps on.
export const RuntimeNode = z
  .object({
    id: z.string().meta({ description: "The Swarm node ID; on a single engine, the engine's ID" }),
    hostname: z.string(),
    role: z.enum(['manager', 'worker']).meta({ description: 'A single engine is a manager' }),
    state: z.string().meta({ description: 'As Swarm reports it: `ready`, `down`, `disconnected`, `unknown`; a single engine answering is `ready`' }),
    availability: z.string().meta({ description: 'As Swarm reports it: `active`, `pause`, `drain`; a single engine is `active`' }),
    cpus: z.number().min(0).meta({ description: 'CPUs of the machine' }),
    memoryMb: z.number().int().min(0).meta({ description: 'Memory of the machine, in MiB' }),
    apps: z.number().int().min(0).meta({ description: 'How many apps have a running replica on this node' }),
  })
  .meta({ id: 'RuntimeNode' });

export const NodesList = z.object({ nodes: z.array(RuntimeNode).meta({ description: 'Managers first, then by hostname' }) }).meta({ id: 'NodesList' });

export type NodesListDto = z.infer<typeof NodesList>;
