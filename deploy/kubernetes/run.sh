#!/bin/sh
# Runs the nightly sweep on the cluster kubectl points at: the results
# volume, the Indexed Job of 8 shards, then (once every shard is done) the
# report job, and copies nightly.html and nightly.json here.
#
#   docker build -f deploy/Dockerfile -t REGISTRY/zoosim:TAG . && docker push REGISTRY/zoosim:TAG
#   (set image: REGISTRY/zoosim:TAG in nightly-job.yaml and report-job.yaml)
#   deploy/kubernetes/run.sh
set -eu
cd "$(dirname "$0")"
kubectl apply -f results-pvc.yaml
kubectl delete job zoosim-nightly zoosim-nightly-report --ignore-not-found
kubectl apply -f nightly-job.yaml
# Complete when every index succeeded; a failed index (a shard that wrote
# no JSON twice) fails the job and the report would refuse the missing shard.
kubectl wait --for=condition=complete --timeout=12h job/zoosim-nightly
kubectl apply -f report-job.yaml
status=0
kubectl wait --for=condition=complete --timeout=2h job/zoosim-nightly-report || status=1
kubectl logs job/zoosim-nightly-report || true
# Copy the results out through a short-lived pod that mounts the volume.
kubectl run zoosim-results-copy --image=alpine:3.20 --restart=Never \
	--overrides='{"spec":{"volumes":[{"name":"r","persistentVolumeClaim":{"claimName":"zoosim-results"}}],"containers":[{"name":"c","image":"alpine:3.20","command":["sleep","600"],"volumeMounts":[{"name":"r","mountPath":"/results"}]}]}}'
kubectl wait --for=condition=ready --timeout=5m pod/zoosim-results-copy
kubectl cp zoosim-results-copy:/results/nightly.html nightly.html
kubectl cp zoosim-results-copy:/results/nightly.json nightly.json || true
kubectl delete pod zoosim-results-copy --wait=false
echo "report: $(pwd)/nightly.html"
exit $status
