/* version.h - the version every binary prints: ALERTQ_VERSION, which the
 * build defines from project(VERSION) in CMakeLists.txt, the one place it is
 * written */
#ifndef ALERTQ_VERSION_H
#define ALERTQ_VERSION_H
#ifndef ALERTQ_VERSION
#error "ALERTQ_VERSION is defined by the build (project(VERSION) in CMakeLists.txt)"
#endif
#endif
