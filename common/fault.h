/* fault.h: crash points for the crash-safety tests. In the shipped daemon
 * fault_point() does nothing; the test daemon (tests/bin/
 * nodebak-snapshotd-fault, built from fault.c with NODEBAK_FAULT_INJECTION)
 * counts the calls and kills itself with SIGKILL at the Nth one when
 * $NODEBAK_FAULT_AT=N, and appends each point's name to
 * $NODEBAK_FAULT_TRACE when that is set. $NODEBAK_FAULT_HOLD=NAME:FILE
 * makes it wait at point NAME while FILE exists. */
#ifndef NODEBAK_FAULT_H
#define NODEBAK_FAULT_H

void fault_point(const char *where);

#endif
