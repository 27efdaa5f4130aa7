#!/bin/sh
echo "database $DB_NAME ready"
