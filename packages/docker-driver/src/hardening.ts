// What every container gets, whatever its spec says (see createDockerodeDriver's createOptions).

/**
 * The only capabilities a container keeps; every other one is dropped (`CapDrop: ['ALL']`, then these added back).
 * Enough for images that start as root and step down to a user (CHOWN, DAC_OVERRIDE, FOWNER, FSETID, SETGID,
 * SETUID), bind ports below 1024 (NET_BIND_SERVICE) and signal their own processes (KILL). Gone compared with
 * Docker's default set: NET_RAW (raw sockets: spoofing, ARP tricks on the bridge), MKNOD, SYS_CHROOT, SETPCAP,
 * SETFCAP, AUDIT_WRITE. With no-new-privileges, no process in the container can gain more (setuid binaries and
 * file capabilities do nothing). A process running as a non-root user has none of them in effect.
 */
export const CONTAINER_CAPABILITIES = ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID', 'NET_BIND_SERVICE'] as const;

/**
 * Open files per process (RLIMIT_NOFILE): `soft` is what the app starts with, `hard` what it may raise itself to.
 * dockerd's own default is about a million, which lets one tenant's app pin a large share of the host's file
 * table; 4096 / 8192 is plenty for web servers and databases of this size.
 */
export const CONTAINER_NOFILE_LIMIT = { soft: 4096, hard: 8192 } as const;
