// Resources: capabilities to privileged operations, handed out by the
// kernel (to init) and passed on as init's manifest says.
#pragma once

#define NB_RESOURCE_VMEX 1 // may turn vmos executable (program loaders)
