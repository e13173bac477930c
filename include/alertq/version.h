/* version.h - the version every binary prints */
#ifndef ALERTQ_VERSION_H
#define ALERTQ_VERSION_H
#ifndef ALERTQ_VERSION
#define ALERTQ_VERSION "0.1.0"
#endif
#endif
