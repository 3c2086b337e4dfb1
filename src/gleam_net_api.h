/* gleam_net.h: the distributed mode of gleam.h: the same job binary as master, agent,
   driver and executor, over TCP, with nothing but libc and POSIX threads.

   HOW TO USE IT
   -------------
   In the one C file that defines GLEAM_IMPLEMENTATION, include it after gleam.h:

       #define GLEAM_IMPLEMENTATION
       #include "gleam.h"
       #include "gleam_net.h"

   Nothing else changes in the program. gleam_init then tells the roles apart by argv:

       JOB master [-address HOST:PORT]                          default 127.0.0.1:45326
       JOB agent -master HOST:PORT [-host ADDRESS] [-port N] [-dir DIR] [-slots N] [-memory MB]
       JOB -distributed [-gleam.master=HOST:PORT] ARGS...        the driver: runs the flows
                                                                 on the cluster
   and an executor is a process an agent starts. Flags take one dash or two.

   WHAT RUNS WHERE
   ---------------
   The driver plans each flow as local mode does (a dataset's default shards are the
   cluster's slots), ships its own binary to the agents that lack it (kept by SHA-256
   under -dir/bin), and runs each stage's tasks on the agents once the stages it reads
   are complete. An executor is the job's binary run with the driver's arguments: main
   runs again, registers the same functions and builds the same flows (context pointers,
   in-memory rows and flags included) up to gleam_run of its task's flow, whose plan must
   hash as the driver's did; it runs that one task and ends. Its input blocks come from
   the agents that hold them, its output blocks go to its own agent, which keeps them (in
   memory up to -memory, then in a file under -dir) until the job ends. What the task
   prints goes to the driver's stderr, labelled; the last stage's rows are read by the
   driver into the program's outputs, in the same order as local mode.

   PROTOCOL (version 1)
   --------
   Every connection starts with a greeting. The side that connects sends HELLO, the other
   answers with its own: "GLEAMNET", the version as 4 bytes big-endian, a role byte (M
   master, A agent, D driver, E executor) and a challenge of 32 random bytes. Then the
   connecting side sends its proof, HMAC-SHA256(secret, "gleam-c proof v1" || 'C' || its
   role || the other's challenge || its own challenge); the other checks it and answers one
   byte (1 accepted, 0 refused) and its own proof (with 'S'); the connecting side checks
   that and answers one byte too. A proof binds both fresh challenges, so a recorded one
   is worth nothing later. The secret is $GLEAM_SECRET or the file of -gleam.secret-file;
   without one, masters and agents listen on loopback only. The master also answers HTTP
   GET / (the status page) and GET /status.json on its port, read-only.
   After the greeting, frames: a 4-byte big-endian length (of what follows, at most
   64 MB), a type byte, the type's 32-bit fields, then bytes. Types 1-8 carry rows between
   tasks (blocks of MessagePack rows, the ends of producers' streams, output rows, a task's
   result); types from 32 on are messages whose bytes are one MessagePack array. Every
   read and write times out after 30 s; idle peers beat every second. A server gives a
   peer 10 s from its connection to the end of the greeting (a browser the same to send
   its request), and when it is full it drops the oldest connection still greeting.
*/
#ifndef GLEAM_NET_H
#define GLEAM_NET_H

#ifndef GLEAM_H
#error "gleam_net.h: include gleam.h first"
#endif

#define GLEAM_NET_VERSION 1

#endif /* GLEAM_NET_H */
