/**
 * Credentials and user namespaces. A task's capabilities are held in its
 * credentials' user namespace; a check names the user namespace it is made
 * against, and the rule is cap_capable()'s walk: the capability counts in the
 * holder's own namespace and below, and the owner of a child namespace has
 * every capability in it.
 */
import { hasCap, type CapSet } from '../abi/capabilities.js';

export class UserNamespace {
  /** id is assigned when the namespace is committed to a host; -1 until then. */
  id = -1;
  readonly level: number;
  constructor(
    readonly parent: UserNamespace | null,
    readonly ownerUid: number,
  ) {
    this.level = parent ? parent.level + 1 : 0;
  }
}

/** Credentials are per task (thread) and immutable; a change makes a new object (as prepare_creds/commit_creds). */
export interface Credentials {
  readonly uid: number;
  readonly euid: number;
  readonly suid: number;
  readonly userNs: UserNamespace;
  readonly effective: CapSet;
  readonly permitted: CapSet;
  /**
   * set once a credential change made the task's address space not dumpable (kernel/cred.c
   * commit_creds: a changed euid sets the mm's dumpable flag to suid_dumpable, 0 by default). The
   * flag belongs to the address space, which a fork copies; the model has no exec to reset it. Each
   * task keeps a copy: a live task's is its address space's (a setuid marks every live task sharing
   * it), an exited task's the flag at its exit (exit_mm's user_dumpable). docs/semantics.md §12.
   * Absent: dumpable.
   */
  readonly nondumpable?: true;
}

/** inUserns reports whether `child` is `ancestor` or below it (kernel/user_namespace.c in_userns). */
export function inUserns(ancestor: UserNamespace, child: UserNamespace): boolean {
  let ns: UserNamespace | null = child;
  while (ns && ns.level > ancestor.level) ns = ns.parent;
  return ns === ancestor;
}

/** capableIn reports whether `creds` has capability `cap` in user namespace `target` (cap_capable). */
export function capableIn(creds: Credentials, cap: number, target: UserNamespace): boolean {
  for (let ns: UserNamespace | null = target; ns; ns = ns.parent) {
    if (ns === creds.userNs) return hasCap(creds.effective, cap);
    // Past the holder's level the walk cannot meet its namespace any more.
    if (ns.level <= creds.userNs.level) return false;
    // The owner of a namespace created in the holder's namespace has every capability in it.
    if (ns.parent === creds.userNs && ns.ownerUid === creds.euid) return true;
  }
  return false;
}
