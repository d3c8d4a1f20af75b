#!/bin/sh
echo "integ tool 1.0.0"
