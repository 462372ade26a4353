/* Exit codes of every tool: bftd, bftctl and its commands, bftsim.
 * docs/design.md "Exit codes, all tools" is the contract: scripts and the
 * e2e tests branch on these numbers, so they never change meaning. */
#ifndef BFT_TOOLS_EXIT_CODES_H
#define BFT_TOOLS_EXIT_CODES_H

enum bft_exit {
    /* safe and progressed, verified, answered, done, all seeds passed,
     * clean stop */
    BFT_EXIT_OK = 0,
    /* bench: a run not safe; inject: transport error; bftsim: a seed
     * failed; bftd: could not restart itself after its storage recovered */
    BFT_EXIT_FAIL = 1,
    /* bad flag, bad config or key, no free ports, a protocol not built */
    BFT_EXIT_USAGE = 2,
    /* cluster, soak: honest replicas diverged (or ledger, audit violated);
     * audit: a violation */
    BFT_EXIT_UNSAFE = 3,
    /* cluster, soak: no progress after the last heal; read: no answer;
     * status: some replica did not answer */
    BFT_EXIT_NO_PROGRESS = 4,
    /* Not returned by a tool: what bftctl sees of its children. A forked
     * child that could not exec (the shell's convention), and the code
     * bench records for a run that died from a signal. */
    BFT_EXIT_EXEC_FAILED = 127,
    BFT_EXIT_KILLED = 128,
};

#endif
