#ifndef WIRETAPE_CSQLITE_SHIM_H
#define WIRETAPE_CSQLITE_SHIM_H
#include <sqlite3.h>
#endif
