// Kernel log: printk with syslog-style levels and a timestamp, kept in a ring
// buffer (read later from user space through a log handle) and echoed to the
// console when the level is at or below the console log level.
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/compiler.h"

#define LOG_EMERG   0
#define LOG_ALERT   1
#define LOG_CRIT    2
#define LOG_ERR     3
#define LOG_WARNING 4
#define LOG_NOTICE  5
#define LOG_INFO    6
#define LOG_DEBUG   7

void printk(int level, const char *fmt, ...) __printf(2, 3);
void vprintk(int level, const char *fmt, va_list ap);

#define pr_emerg(...)  printk(LOG_EMERG, __VA_ARGS__)
#define pr_crit(...)   printk(LOG_CRIT, __VA_ARGS__)
#define pr_err(...)    printk(LOG_ERR, __VA_ARGS__)
#define pr_warn(...)   printk(LOG_WARNING, __VA_ARGS__)
#define pr_notice(...) printk(LOG_NOTICE, __VA_ARGS__)
#define pr_info(...)   printk(LOG_INFO, __VA_ARGS__)
#define pr_debug(...)  printk(LOG_DEBUG, __VA_ARGS__)
