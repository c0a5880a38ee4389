#!/bin/bash
# study-checks.sh — issue 24's checks of the study drivers on real data, in one sitting:
# a 4-point sweep with --jobs 2 --threads 1 against --jobs 1 --threads 2 (wall time, and the
# curves against each point trained alone), mpirun -np 2 --ranks-per-run 1 on two files,
# a --jobs worker killed with SIGKILL and --resume'd onto its uninterrupted curve, and a
# random search drawn twice. About 18 minutes on 2 cores; run nothing else beside it.
# Usage: scripts/study-checks.sh [CIFAR-10 dir] > log  (needs build/, sqlite3, mpirun)
set -u
R=$(cd "$(dirname "$0")/.." && pwd)
B=$R/build/cnnrun
D=${1:-$R/../shared/data/cifar-10-batches-bin}
W=$(mktemp -d); cd $W; echo "work dir $W"
export CNNRUN_CONV=rule
echo "== machine"; grep -m1 -E "cpu family" /proc/cpuinfo; grep -m1 "^model\s" /proc/cpuinfo
env | grep ^OPENBLAS_ ; $R/build/tests/gemm_peak 2 2>&1 | tail -3
date -u
S="--data $D --set data.train_subset=10000 --set data.test_subset=2000 --set experiment.epochs=2 --set schedule.cycle_epochs=2"
SW="--sweep schedule.lr_max=0.05,0.1,0.2,0.4"
echo "== 1. 4-point sweep: jobs 2 x threads 1 against jobs 1 x threads 2 (10000 train / 2000 test, 2 epochs)"
for round in 1 2; do
  /usr/bin/time -f "round $round jobs2x1: wall %e s user %U s" $B run $R/experiments/quick.ini $S $SW --jobs 2 --threads 1 --db j2_$round.db 2>&1 | grep -E "cnnrun: \[|succeeded|round|wall" 
  /usr/bin/time -f "round $round jobs1x2: wall %e s user %U s" $B run $R/experiments/quick.ini $S $SW --jobs 1 --threads 2 --db j1_$round.db 2>&1 | grep -E "round|wall|succeeded"
done
echo "== alone: each point in its own process, --threads 1 (two at a time)"
for lr in 0.05 0.1; do $B run $R/experiments/quick.ini $S --set schedule.lr_max=$lr --threads 1 --db alone_$lr.db >/dev/null 2>&1 & done; wait
for lr in 0.2 0.4; do $B run $R/experiments/quick.ini $S --set schedule.lr_max=$lr --threads 1 --db alone_$lr.db >/dev/null 2>&1 & done; wait
i=0
for lr in 0.05 0.1 0.2 0.4; do i=$((i+1))
  a=$(sqlite3 j2_1.db "select group_concat(printf('%.9g %.9g %.9g %.9g %.9g',lr,train_loss,train_acc,test_loss,test_acc),' | ') from (select * from epochs where run_id=$i order by epoch)")
  b=$(sqlite3 alone_$lr.db "select group_concat(printf('%.9g %.9g %.9g %.9g %.9g',lr,train_loss,train_acc,test_loss,test_acc),' | ') from (select * from epochs where run_id=1 order by epoch)")
  c=$(sqlite3 j1_1.db "select group_concat(printf('%.9g %.9g %.9g %.9g %.9g',lr,train_loss,train_acc,test_loss,test_acc),' | ') from (select * from epochs where run_id=$i order by epoch)")
  [ "$a" = "$b" ] && echo "point $lr: jobs2 == alone: $a" || echo "point $lr: DIFFER jobs2 '$a' alone '$b'"
  echo "   jobs1 threads2: $c"
done
echo "== 2. mpirun -np 2 --ranks-per-run 1 on a directory of two files"
mkdir -p dir2; cp $R/experiments/quick.ini dir2/a.ini; sed -e 's/^name = quick/name = quick_b/' -e 's/^seed = 1/seed = 2/' $R/experiments/quick.ini > dir2/b.ini
/usr/bin/time -f "mpirun wall %e s" mpirun --allow-run-as-root --oversubscribe -np 2 $B run dir2 --ranks-per-run 1 --threads 1 --data $D --set data.train_subset=5000 --set data.test_subset=2000 --set experiment.epochs=1 --set schedule.cycle_epochs=1 --db mpi.db 2>&1 | tail -4
sqlite3 -header mpi.db "select id, experiment, ranks, threads, status, (select count(*) from epochs e where e.run_id=runs.id) as epochs from runs"
echo "== 3. a worker killed by SIGKILL mid-run; --resume"
K="--data $D --set data.train_subset=4000 --set data.test_subset=1000 --set experiment.epochs=3 --set schedule.cycle_epochs=3"
$B run $R/experiments/quick.ini $K --sweep schedule.lr_max=0.1,0.2 --jobs 2 --threads 1 --db kill.db > kill.out 2>&1 &
P=$!
for t in $(seq 1 600); do n=$(sqlite3 kill.db "select count(*) from epochs where run_id=2" 2>/dev/null || echo 0); [ "${n:-0}" -ge 1 ] && break; sleep 0.2; done
sleep 3
V=$(pgrep -P $P | tail -1); echo "killing worker $V (run 2, in epoch 2)"; kill -9 $V; wait $P; echo "exit $?"
cat kill.out | grep -v "^\s*$" | tail -5
sqlite3 -header kill.db "select id, status, error from runs"
$B run $R/experiments/quick.ini $K --sweep schedule.lr_max=0.1,0.2 --jobs 2 --threads 1 --db kill.db --resume 2>&1 | tail -3
sqlite3 -header kill.db "select id, status from runs"
$B run $R/experiments/quick.ini $K --set schedule.lr_max=0.2 --threads 1 --db ref.db > /dev/null 2>&1
a=$(sqlite3 kill.db "select group_concat(printf('%.9g %.9g %.9g',train_loss,test_loss,test_acc),' | ') from (select * from epochs where run_id=2 order by epoch)")
b=$(sqlite3 ref.db "select group_concat(printf('%.9g %.9g %.9g',train_loss,test_loss,test_acc),' | ') from (select * from epochs where run_id=1 order by epoch)")
[ "$a" = "$b" ] && echo "killed+resumed == uninterrupted: $a" || echo "DIFFER: '$a' vs '$b'"
echo "== 4. random search: the same file twice"
cat > rs.ini <<'E2'
[experiment]
name = rs
seed = 1
epochs = 1
[data]
batch_size = 64
[optimizer]
type = sgd
momentum = 0.9
[schedule]
type = constant
lr = 0.1
[layer.c1]
type = conv
filters = 8
activation = relu
[layer.gap]
type = global_avgpool
[layer.fc]
type = linear
outputs = 10
[sweep]
samples = 6
schedule.lr = loguniform(1e-3, 1)
optimizer.weight_decay = uniform(0, 1e-3)
optimizer.momentum = choice(0.8, 0.9, 0.95)
E2
$B check rs.ini > c1.txt 2>&1; echo "check exit $?"; $B check rs.ini > c2.txt 2>&1
cmp c1.txt c2.txt && echo "check twice: identical"; grep -i -A7 "sweep:" c1.txt | head -9
$B run rs.ini --db rs1.db --set data.train_subset=256 --set data.test_subset=256 --threads 2 >/dev/null 2>&1
$B run rs.ini --db rs2.db --set data.train_subset=256 --set data.test_subset=256 --threads 2 >/dev/null 2>&1
q="select group_concat(run_id||':'||key||'='||value, ' ') from (select * from run_params order by run_id, key)"
[ "$(sqlite3 rs1.db "$q")" = "$(sqlite3 rs2.db "$q")" ] && echo "run twice: run_params identical: $(sqlite3 rs1.db "$q")"
date -u
