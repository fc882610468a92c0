// Kernel object types. Reserved values name objects of later issues so that
// protocol descriptors can already mention them.
#pragma once

#define OBJ_NONE       0 // in protocol descriptors: any type
#define OBJ_CHANNEL    1
#define OBJ_PORT       2
#define OBJ_EVENT      3
#define OBJ_EVENTPAIR  4
#define OBJ_TIMER      5
#define OBJ_VMO        6
#define OBJ_REVOKER    7 // cuts off a revocable group of handles
#define OBJ_PROCESS    8
#define OBJ_THREAD     9
#define OBJ_VMAR       10 // address space region
#define OBJ_JOB        11
#define OBJ_INTERRUPT  12
#define OBJ_RESOURCE   13
#define OBJ_LOG        14
#define OBJ_TYPE_COUNT 15

#define OBJ_ANY OBJ_NONE
