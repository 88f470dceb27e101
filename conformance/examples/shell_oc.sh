#!/usr/bin/env bash
# A complete OC for Protocole Accès 1.2 in shell, driven by the opsim conformance harness:
#
#   opsim conformance run --adapter "command:conformance/examples/shell_oc.sh"
#
# The harness runs `shell_oc.sh <verb>` once per call with {"context": {...}, "args": {...}} on stdin and
# reads one JSON object on stdout (docs/adapters.md). FTP goes through curl, JSON through jq, CSV through
# awk; what the OC knows of its orders lives in files under the context's state_dir.
set -euo pipefail

verb=${1:?usage: shell_oc.sh <verb> < request.json}
request=$(cat)
ctx() { jq -r ".context.$1" <<<"$request"; }
arg() { jq -r ".args.$1 // empty" <<<"$request"; }

oc=$(ctx oc_code) oi=$(ctx oi) arcep=$(ctx arcep)
ftp="ftp://$(ctx ftp.host):$(ctx ftp.port)" auth="$(ctx ftp.user):$(ctx ftp.password)"
day=$(ctx today | tr -d -) stamp=$(ctx now | tr -d ':T-') state=$(ctx state_dir)
# The operator's Accès folders, as the harness read them from the sandbox (relative to the FTP home).
in_dir=$(ctx folders.acces.in | sed 's#^/##') out_dir=$(ctx folders.acces.out | sed 's#^/##')
mkdir -p "$state/orders" "$state/seq"

# ---------------------------------------------------------------- what the OC knows of an order
get() { cat "$state/orders/$1/$2" 2>/dev/null || true; }
put() {  # a cancelled, terminated or overwritten order stays so, whatever answer comes after
  case "$2:$(get "$1" state)" in state:cancelled|state:terminated|state:overwritten) return 0 ;; esac
  mkdir -p "$state/orders/$1"; printf '%s' "$3" > "$state/orders/$1/$2"
}

# ---------------------------------------------------------------- sending a file
send() {  # <flow code> <header> <line>: written in ISO-8859-1, uploaded as .tmp, then renamed
  local n=0 seq_file="$state/seq/$1_$day" name
  [ -f "$seq_file" ] && n=$(cat "$seq_file")
  n=$((n + 1)); echo "$n" > "$seq_file"        # a sequence is never reused on a day
  name=$(printf '%s_%s_%s_V12_%s_%06d.csv' "$oi" "$oc" "$1" "$day" "$n")
  printf '%s\r\n%s\r\n' "$2" "$3" | iconv -f UTF-8 -t ISO-8859-1 > "$state/upload.csv"
  curl -sS --user "$auth" -T "$state/upload.csv" "$ftp/$in_dir/$name.tmp" \
       -Q "-RNFR $name.tmp" -Q "-RNTO $name" -o /dev/null
}

CMD_HEADER="ReferenceCommandePriseInterneOC;CommuneImmeuble;CodePostalImmeuble;CodeInseeImmeuble;CodeVoieRivoliImmeuble;NumeroVoieImmeuble;ComplementNumeroVoieImmeuble;TypeVoieImmeuble;LibelleVoieImmeuble;CodeAdresseImmeuble;Batiment;Escalier;Etage;TypeRacco;DateInstall;NomClient;PrenomClient;ContactClient1;ContactClient2;IdRdv;ReferencePrestationPm;ReferencePm;ReferencePrise;PriseExistante;TypeCommandeDemande;DateCommandePrise;CommentaireCmdAcces;InfoCmdAcces1;InfoCmdAcces2;InfoCmdAcces3;InfoCmdAcces4;InfoCmdAcces5;InfoCmdAcces6;InfoCmdAcces7;InfoCmdAcces8"
STOC_HEADER="ReferenceCommandePriseInterneOC;ReferencePrestationPrise;ReferenceCommandeSousTraitantOI;CrRaccordementPrise;MotifKoCrRaccordementPrise;ReferencePrise;DateRaccordementPrise;PrisePosee;BilanOptique;Commentaire;NotificationReprovisioningHL;NumeroDecharge"
MES_HEADER="ReferenceCommandePriseInterneOC;ReferencePrestationPrise;ReferencePrise;EtatMesPrise;DateMesPrise;Commentaire"
ANNUL_HEADER="ReferenceCommandePriseInterneOC;ReferencePrestationPrise;DateAnnulation;ResponsabiliteAnnulationCommandePrise;Commentaire"
ROUTE="ReferencePrise ReferencePBO NomModulePm1 PositionModulePm1 ReferenceCableModulePm1 InformationTubeModulePm1 InformationFibreModulePm1 ReferenceCablePBO1 InformationTubePBO1 InformationFibrePBO1 ConnecteurPriseNumero1 ConnecteurPriseCouleur1"

send_mes() {
  send CrMESL "$MES_HEADER" "$1;$(get "$1" prestation);$(get "$1" route_ReferencePrise);OK;$day;"
  put "$1" state in_service
}

# ---------------------------------------------------------------- reading what the operator sent
as_json() {  # one JSON object per data line of a CSV file (header names as keys)
  iconv -f ISO-8859-1 -t UTF-8 "$1" | tr -d '\r' | awk -F';' '
    NR == 1 { for (i = 1; i <= NF; i++) h[i] = $i; next }
    NF > 0  { out = "{"; for (i = 1; i <= NF; i++) { v = $i; gsub(/\\/, "\\\\", v); gsub(/"/, "\\\"", v)
                out = out (i > 1 ? "," : "") "\"" h[i] "\":\"" v "\"" }; print out "}" }'
}

handle() {  # <flow code> <one line as JSON>
  local f ref; ref=$(jq -r .ReferenceCommandePriseInterneOC <<<"$2")
  f() { jq -r ".$1 // \"\"" <<<"$2"; }
  case $1 in
    ARCMD_ACCES)
      put "$ref" prestation "$(f ReferencePrestationPrise "$2")"
      if [ "$(f EtatArCommandePrise "$2")" = OK ]; then put "$ref" state acknowledged
      else put "$ref" state rejected; put "$ref" reject_code "$(f MotifKoArCommandePrise "$2")"; fi ;;
    CrCMD_ACCES)
      if [ "$(f EtatCrCommandePrise "$2")" = OK ]; then
        put "$ref" state confirmed
        for c in $ROUTE; do put "$ref" "route_$c" "$(f "$c" "$2")"; done
      else put "$ref" state rejected; put "$ref" reject_code "$(f MotifKoCrCommandePrise "$2")"; fi ;;
    NOTIFREPROV)   # a new route: the one the OC holds from now on
      for c in $ROUTE; do put "$ref" "route_$c" "$(f "$c" "$2")"; done
      put "$ref" decharge "$(f NumeroDecharge "$2")" ;;
    CMDSTOC)
      put "$ref" stoc_ref "$(f ReferenceCommandeSousTraitantOI "$2")"; put "$ref" state stoc_requested ;;
    CrMADL)
      if [ "$(f EtatCrMadPrise "$2")" = OK ]; then
        put "$ref" state available
        if [ "$(get "$ref" mes_wanted)" = yes ]; then send_mes "$ref"; fi
      fi ;;
    CR_ANNUL_ACCES)
      if [ "$(f EtatCrAnnResCommandePrise "$2")" = OK ]; then
        if [ "$(f TypeOperation "$2")" = RESIL ]; then put "$ref" state terminated; else put "$ref" state cancelled; fi
      fi ;;
    NOTIFRACCKO) put "$ref" state connection_failed; put "$ref" reject_code "$(f MotifKoRaccordement "$2")" ;;
    NOTIFECRASEMENT) put "$ref" state overwritten ;;   # another OC took the socket: the line has ended
  esac
}

sync() {
  local names name code
  names=$(curl -sS --user "$auth" -l "$ftp/$out_dir/" | tr -d '\r' | grep -E '\.csv$' || true)
  # Answers in protocol order: AR, CR, reprovisioning, Cmd_STOC, CR MAD, then the rest.
  for code in ARCMD_ACCES CrCMD_ACCES NOTIFREPROV CMDSTOC CrMADL CR_ANNUL_ACCES NOTIFRACCKO NOTIFECRASEMENT; do
    for name in $(grep -E "^${oi}_${oc}_${code}_" <<<"$names" | sort || true); do
      curl -sS --user "$auth" "$ftp/$out_dir/$name" -o "$state/download.csv"
      while IFS= read -r line; do handle "$code" "$line"; done < <(as_json "$state/download.csv")
      curl -sS --user "$auth" "$ftp/" -Q "DELE $out_dir/$name" -o /dev/null   # the reader deletes
    done
  done
}

# ---------------------------------------------------------------- the verbs
case $verb in
  order_access)
    n=$(( $(cat "$state/refs" 2>/dev/null || echo 0) + 1 )); echo "$n" > "$state/refs"
    ref="SH${oc}$(printf '%06d' "$n")"
    a() { jq -r ".args.address.$1 // \"\"" <<<"$request"; }
    c() { jq -r ".args.customer.$1 // \"\"" <<<"$request"; }
    socket=$(jq -r '.args.socket // ""' <<<"$request") existing=O prise=""
    case $socket in "") existing=N ;; existing) prise="" ;; *) prise=$socket ;; esac
    line="$ref;$(a CommuneImmeuble);$(a CodePostalImmeuble);$(a CodeInseeImmeuble);$(a CodeVoieRivoliImmeuble)"
    line+=";$(a NumeroVoieImmeuble);$(a ComplementNumeroVoieImmeuble);$(a TypeVoieImmeuble);$(a LibelleVoieImmeuble)"
    line+=";$(a CodeAdresseImmeuble);$(a Batiment);$(a Escalier);$(a Etage);$(arg mode);;$(c NomClient)"
    line+=";$(c PrenomClient);$(c ContactClient1);;$(arg appointment);;$(a ReferencePm);$prise;$existing;AUTO;$day;;;;;;;;;"
    send CMD_ACCES "$CMD_HEADER" "$line"
    put "$ref" state sent
    jq -n --arg ref "$ref" '{ref: $ref}' ;;
  cancel_access)
    ref=$(arg ref)
    send ANNUL_ACCES "$ANNUL_HEADER" "$ref;$(get "$ref" prestation);$day;OC;"
    echo '{}' ;;
  complete_stoc)
    ref=$(arg ref) outcome=$(arg outcome)
    decharge=$(get "$ref" decharge) hl=NON
    [ -n "$decharge" ] && hl=OUI
    send CrSTOC "$STOC_HEADER" "$ref;$(get "$ref" prestation);$(get "$ref" stoc_ref);$outcome;$(arg motif);$(get "$ref" route_ReferencePrise);$stamp;$([ "$outcome" = OK ] && echo OUI || echo NON);-18.5 dBm;;$hl;$decharge"
    [ "$outcome" = OK ] && put "$ref" state connected
    echo '{}' ;;
  report_in_service)
    ref=$(arg ref)
    if [ "$(get "$ref" state)" = available ]; then send_mes "$ref"; else put "$ref" mes_wanted yes; fi
    echo '{}' ;;
  call_hotline)   # its technician on site names the socket found, or asks a hot reprovisioning
    ref=$(arg ref)
    body=$(jq -c '.args | {ref, socket: (.socket // ""), kind: (.kind // "hotline")}
                  + (if .motif then {motif} else {} end)' <<<"$request")
    answer=$(curl -sS --fail-with-body -H 'Content-Type: application/json' -d "$body" "$(arg hotline)")
    decharge=$(jq -r '.NumeroDecharge // ""' <<<"$answer")
    [ -n "$decharge" ] && put "$ref" decharge "$decharge"   # the CR_STOC carries it
    jq -n --arg d "$decharge" '{decharge: $d}' ;;
  book_appointment)   # the first free slot the booking service offers for the address
    booking=$(arg booking) hexacle=$(jq -r '.args.address.CodeAdresseImmeuble // ""' <<<"$request")
    case $booking in *\?*) sep='&' ;; *) sep='?' ;; esac
    slot=$(curl -sS --fail-with-body "$booking${sep}address=$hexacle&network=$oi" | jq -r '.slots[0].slot // empty')
    [ -n "$slot" ] || { echo "the booking service offers no free slot" >&2; exit 1; }
    jq -n --arg a "$hexacle" --arg n "$oi" --arg s "$slot" '{address: $a, network: $n, slot: $s}' |
      curl -sS --fail-with-body -H 'Content-Type: application/json' -d @- "$booking" |
      jq '{IdRdv, slot}' ;;
  sync)
    sync; echo '{}' ;;
  order_status)
    ref=$(arg ref)
    route=null
    if compgen -G "$state/orders/$ref/route_*" >/dev/null; then   # a CR or a Notif_Reprov gave one
      route='{}'
      for c in $ROUTE; do
        route=$(jq --arg k "$c" --arg v "$(get "$ref" "route_$c")" '.[$k] = ($v | if . == "" then null else . end)' <<<"$route")
      done
    fi
    jq -n --arg s "$(get "$ref" state)" --arg p "$(get "$ref" prestation)" --arg r "$(get "$ref" reject_code)" \
          --argjson route "$route" \
          '{state: ($s | if . == "" then null else . end), prestation: ($p | if . == "" then null else . end),
            reject_code: ($r | if . == "" then null else . end), route: $route}' ;;
  *) exit 3 ;;   # a verb this OC does not implement: its scenarios are reported "not run"
esac
